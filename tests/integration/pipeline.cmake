# The offline demo end to end under mpirun at 1, 2, 3 and 4 ranks, then checks on what it wrote.
set(SAEDIFF_DEMO_OUT ${CMAKE_BINARY_DIR}/test-out/demo)
foreach(np 1 2 3 4)
  add_test(NAME demo_run_np${np}
           COMMAND ${SAEDIFF_MPIRUN} -np ${np} $<TARGET_FILE:saediff> run
                   --config ${CMAKE_SOURCE_DIR}/configs/demo.toml --out ${SAEDIFF_DEMO_OUT}/np${np})
  set_tests_properties(demo_run_np${np} PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize"
                       TIMEOUT 600 FIXTURES_SETUP demo_np${np} RESOURCE_LOCK cpu_heavy)
endforeach()

# features.csv must be byte-identical on 1, 2, 3 and 4 ranks; so must every dataset in encoded.h5.
add_test(NAME demo_identical_across_ranks
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/check_identical.py
                 ${SAEDIFF_DEMO_OUT}/np1 ${SAEDIFF_DEMO_OUT}/np2 ${SAEDIFF_DEMO_OUT}/np3
                 ${SAEDIFF_DEMO_OUT}/np4)
set_tests_properties(demo_identical_across_ranks PROPERTIES LABELS integration
                     FIXTURES_REQUIRED "demo_np1;demo_np2;demo_np3;demo_np4")

# encoded.h5 read back with h5py and checked against an independent Python/torch computation.
add_test(NAME demo_hdf5_vs_reference
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_SOURCE_DIR}/tests/reference/check_encoded.py
                 --run ${SAEDIFF_DEMO_OUT}/np2 --responses ${CMAKE_SOURCE_DIR}/configs/demo/responses.jsonl)
set_tests_properties(demo_hdf5_vs_reference PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration
                     TIMEOUT 600 FIXTURES_REQUIRED demo_np2 RESOURCE_LOCK cpu_heavy)

# The diff subcommand on the run's encoded.h5 reproduces the run's report, and the CLI's contracts.
add_test(NAME cli_contracts COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_contracts.sh ${SAEDIFF_DEMO_OUT}/np2
                                    ${CMAKE_BINARY_DIR}/test-out/cli)
set_tests_properties(cli_contracts PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize"
                     TIMEOUT 300 FIXTURES_REQUIRED demo_np2)

# Feature labels (JSON, CSV, the HF cache) in the report, and `saediff label` against a loopback server.
add_test(NAME labels_and_label
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/labels_and_label.py ${SAEDIFF_DEMO_OUT}/np2
                 ${CMAKE_BINARY_DIR}/test-out/labels)
set_tests_properties(labels_and_label PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 300 FIXTURES_REQUIRED demo_np2)

# `saediff interpret` against the loopback server on the planted demo: the split, discovery-only proposals,
# held-out judging in both orders, statistics against SciPy/statsmodels, always-A and coin-flip judges, a killed
# and resumed run, the key, the report's Verified findings and run's interpret stage.
add_test(NAME interpret_loopback
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/interpret_loopback.py ${SAEDIFF_DEMO_OUT}/np2
                 ${CMAKE_SOURCE_DIR}/configs/demo/responses.jsonl ${CMAKE_BINARY_DIR}/test-out/interpret)
set_tests_properties(interpret_loopback PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 600 FIXTURES_REQUIRED demo_np2)

# `saediff search` on the planted demo: counts against h5py, documents strongest first, marks only on triggers.
add_test(NAME search_cli
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/search_cli.py ${SAEDIFF_DEMO_OUT}/np2
                 ${CMAKE_BINARY_DIR}/test-out/search)
set_tests_properties(search_cli PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 300 FIXTURES_REQUIRED demo_np2)

# The planted demo finds what was planted (configs/demo/behaviours.json), on 1 and 3 ranks: truth from HF's
# tokenizer and planted.json's trigger ids; precision and recall printed.
foreach(np 1 3)
  add_test(NAME demo_recovery_np${np}
           COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/demo_recovery.py ${SAEDIFF_DEMO_OUT}/np${np}
                   ${CMAKE_SOURCE_DIR}/configs/demo/responses.jsonl ${CMAKE_SOURCE_DIR}/configs/demo/behaviours.json)
  set_tests_properties(demo_recovery_np${np} PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration
                       TIMEOUT 300 FIXTURES_REQUIRED demo_np${np})
endforeach()
