"""Encoders (GCN, MPNN, dense PaiNN), task heads and target normalization.

Modules: ``base`` (the MolBatch / AtomFeatures / Encoder contract), ``gcn``, ``mpnn``, ``painn``
(encoders), ``registry`` (``ENCODERS``, ``make_encoder``), ``heads`` (``make_head``,
``make_heads``), ``normalize`` (``TargetScaler``). Nothing is imported here, so that importing
``molmtl.models.base`` stays cheap (torch_geometric loads only with the 2D encoders).
"""
