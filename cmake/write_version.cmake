# Run at build time (cmake -P): writes OUT from IN with the current git commit, touching OUT only when the
# text changes, so a new commit rebuilds the few files that print it and nothing else.
#   cmake -DSRC=<source dir> -DIN=<version.h.in> -DOUT=<version.h> -DPROJECT_VERSION=<x.y.z> -P write_version.cmake
execute_process(COMMAND git rev-parse --short HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE SAEDIFF_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT SAEDIFF_GIT_COMMIT)
  set(SAEDIFF_GIT_COMMIT unknown)
endif()
execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE dirty OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(dirty)
  string(APPEND SAEDIFF_GIT_COMMIT "-dirty")  # uncommitted changes: the figures are not of that commit
endif()
configure_file(${IN} ${OUT} @ONLY)
