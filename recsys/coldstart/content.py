"""What the cold-start protocols know about a movie without its ratings: its texts, year, genres,
and the attribute prompts its zero-shot features are scored against.

The prompts are short descriptions a viewer might use to pick a film, written once here and
never tuned on test data. Each becomes one candidate feature: the cosine between the item's text
embedding and the prompt's (see :mod:`qanneal_llm.feature_bank`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.texts import display_title, item_text

__all__ = ["MOVIE_ATTRIBUTES", "item_views"]

MOVIE_ATTRIBUTES = (
    "a film for children",
    "a family film",
    "an animated cartoon",
    "a dark thriller",
    "a psychological thriller",
    "a horror film",
    "a slasher film",
    "a romantic comedy",
    "a romantic drama",
    "a teen comedy",
    "a slapstick comedy",
    "a satire",
    "an action blockbuster",
    "a martial arts film",
    "a war film",
    "a western",
    "a science fiction film",
    "a film set in space",
    "a fantasy adventure",
    "a superhero film",
    "a crime film about gangsters",
    "a film noir",
    "a mystery",
    "a courtroom drama",
    "a musical",
    "a documentary",
    "a biography of a real person",
    "a historical epic",
    "a costume drama",
    "a foreign-language film",
    "a French film",
    "an independent film",
    "a cult classic",
    "a classic Hollywood film",
    "a silent film",
    "a film from the 1950s",
    "a film from the 1970s",
    "a film from the 1990s",
    "a film based on a novel",
    "a Shakespeare adaptation",
    "a sequel",
    "a disaster film",
    "a sports film",
    "a film about music",
    "a Christmas film",
    "a film for adults only",
    "an Oscar-winning film",
    "a low-budget B movie",
    "a film starring Arnold Schwarzenegger",
    "a Disney film",
)


def item_views(items: pd.DataFrame) -> pd.DataFrame:
    """The content of ``items`` (rows of ``MovieLens.items``, in the order to rank them) as the
    feature bank reads it: two text views and numeric metadata.

    - ``text``: title, year and genres, the sentence every pipeline embeds
      (:func:`recsys.texts.item_text`);
    - ``title``: the title alone, so the bank can separate what the title says from the genres;
    - ``year``: release year, the median where unknown, plus ``year_unknown``;
    - ``genre:<g>``: one column per genre, 1 when the movie has it.
    """
    years = pd.to_numeric(items["year"], errors="coerce")
    unknown = years.isna()
    frame = pd.DataFrame(
        {
            "text": [item_text(row) for _, row in items.iterrows()],
            "title": [display_title(t) for t in items["title"]],
            "year": years.fillna(years.median() if (~unknown).any() else 0.0).to_numpy(),
            "year_unknown": unknown.to_numpy(dtype=np.float64),
        },
        index=items.index,
    )
    genres = sorted({g for gs in items["genres"] for g in gs if g != "unknown"})
    for g in genres:
        frame[f"genre:{g}"] = [float(g in gs) for gs in items["genres"]]
    return frame.reset_index(drop=True)
