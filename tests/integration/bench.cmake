# The bench suite end to end at its smallest sizes: every benchmark builds, runs (the MPI ones under mpirun on
# 2 ranks), writes its JSON, and reports correct results (bench/suite.py exits 1 on a failed bench or a #wrong);
# the Markdown table and the JSON are left in test-out/bench for a look. Figures are not checked: tests check
# correctness, benchmarks measure.
add_test(NAME bench_suite
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_SOURCE_DIR}/bench/suite.py --quick --build ${CMAKE_BINARY_DIR}
                 --out ${CMAKE_BINARY_DIR}/test-out/bench/suite.md --json ${CMAKE_BINARY_DIR}/test-out/bench/suite.json)
set_tests_properties(bench_suite PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi" TIMEOUT 600
                     RESOURCE_LOCK cpu_heavy)
