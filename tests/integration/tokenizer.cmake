# The tokenizer against HF tokenizers' own implementation (Node binding) on a Unicode stress corpus.
add_test(NAME tokenizer_vs_hf COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/tokenizer_vs_hf.py)
set_tests_properties(tokenizer_vs_hf PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;sanitize" TIMEOUT 600)
