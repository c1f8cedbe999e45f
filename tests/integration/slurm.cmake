# The Slurm scripts on a real one-node Slurm cluster that the test starts on this machine (needs root and the
# slurmctld, slurmd, slurm-client and munge packages, which scripts/setup.sh installs; skipped, saying why,
# without them).
add_test(NAME slurm_jobs
         COMMAND ${SAEDIFF_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/slurm_jobs.py ${CMAKE_BINARY_DIR}/test-out/slurm
                 ${SAEDIFF_DEMO_OUT}/np2)
set_tests_properties(slurm_jobs PROPERTIES ENVIRONMENT "${SAEDIFF_TEST_ENV}" LABELS "integration;slurm;mpi"
                     TIMEOUT 900 FIXTURES_REQUIRED demo_np2 RESOURCE_LOCK cpu_heavy SKIP_RETURN_CODE 77)
