"""Cold-start protocols: held-out items (content is all there is) and held-out users (ask a few
items first). Engines only; the ``qanneal-llm recommend --protocol`` flag drives them."""
