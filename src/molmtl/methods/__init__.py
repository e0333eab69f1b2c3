"""Methods: one interface over the network, GFN2-xTB, DFT at QM9's level and QM9's labels.

A :class:`~molmtl.methods.base.Method` takes a :class:`~molmtl.chem.molecule.Molecule` and
returns a :class:`~molmtl.methods.result.MethodResult` (properties with units, uncertainty,
geometry, timings, warnings, provenance). Methods register in :data:`registry.METHODS`
(``ml``, ``xtb``, ``dft``, ``qm9``); ``molmtl predict``, ``dft run``, ``dft xtb`` and ``compare``
are views over them. Nothing is imported here.
"""
