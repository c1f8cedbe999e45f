# The strategic prompt set for the Gemini study (configs/prompts/gemini_flash.csv) is well-formed.
add_test(NAME prompts_valid
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/prompts_valid.py ${CMAKE_SOURCE_DIR}/configs/prompts/gemini_flash.csv)
set_tests_properties(prompts_valid PROPERTIES LABELS "integration" TIMEOUT 120)
