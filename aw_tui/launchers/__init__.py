"""How a run's runner is started: a detached local process (``aw_tui.launch``) or a Slurm
batch job (:mod:`aw_tui.launchers.slurm`)."""
