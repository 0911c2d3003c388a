"""Automatic capture: IPython hooks, syntax-tree names, detection, fingerprints, profiles.

session.py      get_session(): the store, experiment and run facts go to
hooks.py        install(ip) / uninstall(ip): pre_run_cell / post_run_cell
cell.py         capture one finished cell in one transaction
ast_names.py    names read/written, literal params, fit and read_* calls, secrets
detect.py       params, metrics, datasets, models among the names a cell touched
fingerprint.py  xxh3-128 content fingerprints of DataFrames, Series, arrays, models
profile.py      per-column profiles of datasets
record.py       record_dataset / record_model: live objects -> store rows
api.py          mj.log_param, mj.log_metric, mj.start_run, ... (works without IPython)
"""
