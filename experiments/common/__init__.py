"""What every experiment shares; imports no experiment.

``run`` (the command line, the output folder, results, manifest and timings),
``runner`` (jobs on local processes or Dask), ``files`` (atomic writes),
``paths``, ``seeds`` (job seeds and named draw streams), ``prose`` (the
reports' words), ``agreement`` (the z-rule), ``variants`` (our departures as
switches), ``baselines`` (the mean-field optimum by quadrature), ``plotting``,
``schools`` (the section VI.B protocol) and ``data`` (Figure 4's data set).
"""
