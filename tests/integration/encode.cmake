# The distributed encode: killed mid-run and resumed (equal to an uninterrupted run), and one rank's error stopping
# every rank. Both read the demo run's model (fixture demo_np2, written to test-out/demo/np2 by pipeline.cmake).
foreach(t encode_resume encode_failures)
  add_test(NAME ${t} COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/${t}.py ${CMAKE_BINARY_DIR}/test-out/demo/np2
                             ${CMAKE_BINARY_DIR}/test-out/${t})
  set_tests_properties(${t} PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize" TIMEOUT 900
                       FIXTURES_REQUIRED demo_np2 RESOURCE_LOCK cpu_heavy)
endforeach()

# The dispatcher itself (bench/bench_dispatch --check): every chunk runs exactly once, on 1 rank and on 5.
foreach(np 1 5)
  add_test(NAME dispatch_np${np}
           COMMAND ${SAEDIFF_MPIRUN} -np ${np} $<TARGET_FILE:bench_dispatch> --check --chunks-per-rank 50 --docs 4
                   --work-us 200)
  set_tests_properties(dispatch_np${np} PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize"
                       TIMEOUT 120)
endforeach()

# The count reduction is exact on every backend this host has (bench/bench_reduce --check: MPI here; on a GPU host
# with NCCL, the device path too, against the same exact sums, so the two agree).
add_test(NAME reduce_exact_np3
         COMMAND ${SAEDIFF_MPIRUN} -np 3 $<TARGET_FILE:bench_reduce> --check --sets 3 --d-sae 4096 --reps 3)
set_tests_properties(reduce_exact_np3 PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi" TIMEOUT 120)

# Misuse and bad input (issue 17): refused before the work, with the reason, leaving nothing; on the demo's files.
add_test(NAME misuse COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/misuse.py ${CMAKE_BINARY_DIR}/test-out/demo/np2
                             ${CMAKE_BINARY_DIR}/test-out/misuse)
set_tests_properties(misuse PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;mpi;sanitize" TIMEOUT 900
                     FIXTURES_REQUIRED demo_np2 RESOURCE_LOCK cpu_heavy)
