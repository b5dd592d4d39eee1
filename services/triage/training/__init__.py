"""Training the triage model (``make train``): data mapping, fitting, evaluation, model card.

Outside the domain on purpose: it reads files and uses scikit-learn and scipy, which are only
installed with the ``train`` (or ``dev``) extra. The services at run time need only numpy
and the committed artifact in ``services/triage/model/``.
"""
