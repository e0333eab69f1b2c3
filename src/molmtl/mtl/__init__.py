"""Multi-task strategies (how tasks share parameters) and balancers (how their losses combine).

``molmtl.mtl.registry.make_strategy`` builds ``single``, ``hard``, ``soft``, ``cross-stitch``,
``mrn`` and ``clustered``; ``molmtl.mtl.balancers.make_balancer`` builds the loss balancers.
"""
