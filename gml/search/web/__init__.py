"""``search-ctl serve``: a live web view of the search tasks under a root.

- :mod:`.data`: reads task stores read-only and shapes them for the page;
- :mod:`.importance`: parameter importance (random forest, permutation);
- :mod:`.server`: the HTTP server (stdlib), its routes and its guards;
- ``assets/``: the page (HTML, CSS and hand-written SVG charts in JS).
"""
