"""Imported by the forkserver only (see ingest.workers.spawn): fill the extractor's lazy
caches once, then freeze the heap, so every worker shares them instead of building its own.

trafilatura's justext fallback builds a large stoplist of every language the first time a
page needs it, the domain lookup loads the public-suffix list, and the language model is
loaded at its first text; left lazy, each worker pays the time and holds a private copy.
``gc.freeze()`` moves everything allocated so far out of the collector's sight, so
collections in the workers neither scan those objects nor write to their pages (which
would copy them).
"""

from __future__ import annotations

import gc
import logging

from ingest.extract.langid import detect_language
from ingest.extract.page import extract_article

# Short enough that trafilatura also runs its justext fallback on it.
_PAGE = ("<html><head><title>Warm-up</title></head><body><nav>Home News Sport</nav>"
         "<article><h1>Warm-up</h1><p>" + "A short paragraph about the news of the day. " * 3
         + "</p></article><footer>Contact</footer></body></html>").encode()


def warm_up() -> None:
    try:
        extract_article(_PAGE, "https://www.example.com/news/warm-up.html", "text/html",
                        need_date=False, need_language=False, need_authors=False)
    except Exception:  # any failure, SkipEntry included, costs memory only, never a worker
        logging.getLogger(__name__).debug("worker warm-up failed", exc_info=True)
    detect_language("A short paragraph about the news of the day. " * 6)
    gc.freeze()


warm_up()
