# Run at build time (cmake -P): writes OUT, a C++ raw string literal holding the bytes of IN, so that a source
# can compile a data file in (`constexpr std::string_view k = #include "OUT";`) and the binary never reads
# the source tree at run time.
#   cmake -DIN=<file> -DOUT=<file.inc> -P embed_file.cmake
set(delimiter saediff_embed)
file(READ ${IN} content)
string(FIND "${content}" ")${delimiter}\"" collision)
if(NOT collision EQUAL -1)
  message(FATAL_ERROR "${IN} contains ')${delimiter}\"', the raw-string delimiter cmake/embed_file.cmake uses")
endif()
file(WRITE ${OUT} "// Generated from ${IN} by cmake/embed_file.cmake: do not edit.\nR\"${delimiter}(${content})${delimiter}\"\n")
