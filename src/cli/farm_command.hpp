#pragma once
// `vmm farm run FILE`: runs the VM and container jobs of a farm file (TOML) in parallel as
// child `vmm run` / `vmm container run` processes, and reports JUnit XML, TAP and JSON
// (src/farm).
//
// Exit status: 0 every selected job passed (flaky ones included); 1 a job failed, timed out or
// could not start; 2 a usage error (bad flag, farm file, no job selected); 3 a report could not
// be written; 128 + S the run was stopped by signal S (SIGINT, SIGTERM, SIGHUP).
namespace vmm::cli {

// argv[0] is the program, argv[1] "farm".
int farm_main(int argc, char** argv);

}  // namespace vmm::cli
