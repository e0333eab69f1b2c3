"""Multi-task strategies (how tasks share parameters) and balancers (how their losses combine).

``molmtl.mtl.registry.STRATEGIES.build`` builds ``single``, ``hard``, ``soft``, ``cross-stitch``,
``mrn`` and ``clustered``; ``molmtl.mtl.registry.WEIGHTINGS.build`` the loss weightings and
gradient aggregations (``molmtl.mtl.balancers``). Nothing is imported here.
"""
