# The collector against a real HTTP server on loopback.
add_test(NAME collect_loopback
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/collect_loopback.py ${CMAKE_BINARY_DIR}/test-out/collect)
set_tests_properties(collect_loopback PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize" TIMEOUT 300)

# The collector under faults: kill -9 and resume, SIGTERM, 401, HTML 5xx, truncated bodies, --rpm.
add_test(NAME collect_faults
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/collect_faults.py ${CMAKE_BINARY_DIR}/test-out/collect-faults)
set_tests_properties(collect_faults PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize" TIMEOUT 300)
