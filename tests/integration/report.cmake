# report.html rendered offline in headless Chromium: a screenshot of the right size that is not blank and
# shows the figures' red and blue, and no request outside file:// (Chromium's net log with DNS mapped to
# nowhere, plus a static scan of attributes and CSS). The test also proves on a tampered copy that each
# check can fail. Chromium comes from scripts/setup.sh; without it the test fails and says so.
find_program(SAEDIFF_CHROMIUM NAMES chromium chromium-browser google-chrome-stable google-chrome)
if(NOT SAEDIFF_CHROMIUM)
  message(WARNING "chromium not found: report_renders_offline will fail until scripts/setup.sh installs it "
                  "and cmake runs again")
endif()
if(NOT DEFINED SAEDIFF_DEMO_OUT)  # set by pipeline.cmake, which the glob includes first
  set(SAEDIFF_DEMO_OUT ${CMAKE_BINARY_DIR}/test-out/demo)
endif()
add_test(NAME report_renders_offline
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/report_render.py --chromium ${SAEDIFF_CHROMIUM}
                 --work ${CMAKE_BINARY_DIR}/test-out/report-render ${SAEDIFF_DEMO_OUT}/np2/report/report.html)
set_tests_properties(report_renders_offline PROPERTIES LABELS integration TIMEOUT 300 FIXTURES_REQUIRED demo_np2)

# The report's per-category tables, clusters (NPMI), length strata, key-finding counts and excerpts,
# recomputed from encoded.h5 with h5py and numpy.
add_test(NAME report_contents
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/report_contents.py ${SAEDIFF_DEMO_OUT}/np2)
set_tests_properties(report_contents PROPERTIES LABELS integration TIMEOUT 300 FIXTURES_REQUIRED demo_np2)
