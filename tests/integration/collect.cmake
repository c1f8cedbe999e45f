# The collector against a real HTTP server on loopback.
add_test(NAME collect_loopback
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/collect_loopback.py ${CMAKE_BINARY_DIR}/test-out/collect)
set_tests_properties(collect_loopback PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize" TIMEOUT 300)
