"""Argo's rules, written once: what the lint checks and what the local executor obeys.

One small module per concept, each following the Argo (v4.1.2) or Go source it names:

- :mod:`.names`: Kubernetes DNS-1123 names and labels, Argo's task and step names;
- :mod:`.durations`: Go's ``time.ParseDuration`` and Argo's duration fields;
- :mod:`.cron`: cron schedules as robfig/cron (Argo's controller) reads them;
- :mod:`.depends`: the ``depends`` grammar of DAG tasks and its evaluation;
- :mod:`.dag`: a DAG's dependency graph: ancestors, cycles, default targets;
- :mod:`.structure`: a DAG template's structure as Argo's validation checks it, for the lint
  and the executor's load alike;
- :mod:`.loops`: what makes a task or step loop (``withItems``, ``withParam``, ``withSequence``);
- :mod:`.validate`: one manifest's whole check, which ``kaleidoscope lint`` and the executor's
  load both call; :mod:`.scope` what each place's ``{{...}}`` may name; :mod:`.metric_checks`
  a ``metrics`` field's checks;
- :mod:`.variables`: ``{{...}}`` tags, where they stand, and what a finished task or step offers.

Nothing here imports the rest of Kaleidoscope (nor hera, cv2 or numpy): the lint, the executor
and the builder's option checks all depend on it, never the other way round.
"""
