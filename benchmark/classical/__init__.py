"""The classical reference detector (intensity band + 3D connected components, tuned on validation, no learning).

:mod:`.detector` detects, :mod:`.tuning` grid-searches its parameters on the validation split, and
:mod:`.baseline` runs it on a dataset and writes the ``classical`` reference row (``benchmark baseline``).
"""
