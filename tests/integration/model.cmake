# The reader and SAE against the independent float64 Python reference, plus checkpoint-layout checks.
add_test(NAME model_vs_reference
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/model_vs_reference.py ${CMAKE_BINARY_DIR}/test-out/model)
set_tests_properties(model_vs_reference PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration TIMEOUT 600
                     RESOURCE_LOCK cpu_heavy)
