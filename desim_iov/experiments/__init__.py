"""The composition root's experiments (DESIGN §8): runs as pure, picklable jobs
(:mod:`.jobs`), backends that run sets of them (:mod:`.runner`), and the papers' job sets: the
twin-migration Figs. 6-9 (:mod:`.twin_migration`) and Table II forecasters (:mod:`.forecast`).
Post-hoc tables and figures over their results live in ``analysis/``."""
