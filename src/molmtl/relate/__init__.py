"""Which QM9 tasks should be learned together (``molmtl relate``): label correlations,
cross-task transfer, TAG and gradient affinities (one registered measure each,
:data:`molmtl.relate.registry.RELATEDNESS`), the measured pair gains they are judged against, and
groupings compared. The study and its numbers: ``docs/relatedness.md``."""
