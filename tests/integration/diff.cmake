# `saediff diff` on synthetic encoded.h5 files with planted differences: counts, ranking, Fisher p, BH q, Wilson,
# Newcombe and log-odds intervals, effect sizes, the length-controlled CMH test and the length strata against
# SciPy, statsmodels and exact integer arithmetic; bad input fails clearly. Makes its own files.
add_test(NAME diff_stats_vs_scipy
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/diff_stats.py ${CMAKE_BINARY_DIR}/test-out/diff-stats)
set_tests_properties(diff_stats_vs_scipy PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 300)
