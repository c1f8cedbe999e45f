# report/analysis.ipynb run headless (nbclient) in the demo's report folder: every cell must run and the
# frequencies it recomputes from encoded.h5 must match features.csv; then the same notebook on a synthetic
# encoded.h5 holding the optional category/prompt/text/tokens datasets, with and without scipy.
# (pipeline.cmake, included after this file, sets the same SAEDIFF_DEMO_OUT and the demo_np2 fixture.)
set(SAEDIFF_DEMO_OUT ${CMAKE_BINARY_DIR}/test-out/demo)
add_test(NAME report_notebook_runs
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/notebook_runs.py ${SAEDIFF_DEMO_OUT}/np2/report
                 --work ${CMAKE_BINARY_DIR}/test-out/notebook)
set_tests_properties(report_notebook_runs PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration
                     TIMEOUT 300 FIXTURES_REQUIRED demo_np2)
