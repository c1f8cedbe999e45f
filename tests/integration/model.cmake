# The reader and SAE against the independent float64 Python reference, plus checkpoint-layout checks.
add_test(NAME model_vs_reference
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/model_vs_reference.py ${CMAKE_BINARY_DIR}/test-out/model)
set_tests_properties(model_vs_reference PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS integration TIMEOUT 600
                     RESOURCE_LOCK cpu_heavy)

# saediff's own torch.save reader against torch.load, its refusals, and SAE shape/NaN errors through encode.
if(NOT DEFINED SAEDIFF_DEMO_OUT)  # pipeline.cmake (included later) sets the same
  set(SAEDIFF_DEMO_OUT ${CMAKE_BINARY_DIR}/test-out/demo)
endif()
add_test(NAME pth_reader
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/pth_reader.py $<TARGET_FILE:pth_dump>
                 ${CMAKE_BINARY_DIR}/test-out/pth ${SAEDIFF_DEMO_OUT}/np2)
set_tests_properties(pth_reader PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 300 FIXTURES_REQUIRED demo_np2)

# Bad checkpoints (model and SAE): one clear error naming the file and the tensor, never a crash.
add_test(NAME checkpoint_errors
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/checkpoint_errors.py ${CMAKE_BINARY_DIR}/test-out/checkpoint_errors)
set_tests_properties(checkpoint_errors PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize"
                     TIMEOUT 600)
