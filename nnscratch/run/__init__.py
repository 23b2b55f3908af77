"""Running specs: what a worker runs (task.py), the data prepared once (prepared.py), the tasks
(plan.py), progress and ETA (progress.py), the loky and Dask backends (loky.py, dask.py) and what a
sweep hands them (dispatch.py), a sweep's life cycle (sweep.py) and its adaptive rounds (adaptive.py).
Imports point one way: task <- backends <- sweep."""
