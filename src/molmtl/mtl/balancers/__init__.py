"""Balancers: how per-task losses become parameter gradients.

Registered in :data:`molmtl.mtl.registry.WEIGHTINGS`: ``equal``, ``uw``, ``gradnorm``, ``dwa``,
``famo`` (loss weighting; ``weighting.py``, ``gradnorm.py``) and ``upgrad``, ``mgda``, ``pcgrad``,
``cagrad``, ``nashmtl``, ``imtlg``, ``alignedmtl`` (torchjd Jacobian aggregation; ``jacobian.py``).
Build one with ``WEIGHTINGS.build(name, n_tasks=T, **options)``. Nothing is imported here, so
that the loss weightings do not pay for torchjd's import.
"""
