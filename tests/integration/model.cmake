# The reader and SAE against the independent float64 Python reference, plus checkpoint-layout checks.
add_test(NAME model_vs_reference
         COMMAND ${PYTHON3_BIN} ${CMAKE_CURRENT_SOURCE_DIR}/model_vs_reference.py ${CMAKE_BINARY_DIR}/test-out/model)
set_tests_properties(model_vs_reference PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration TIMEOUT 600
                     RESOURCE_LOCK cpu_heavy)
