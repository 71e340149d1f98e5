"""The two use cases of qanneal-llm (MovieLens recommendation, S&P 500 asset selection),
built only on ``qanneal_llm``'s public API."""
