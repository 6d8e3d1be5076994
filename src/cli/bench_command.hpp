#pragma once
// `vmm bench startup|density`: VM against container startup and density, with QEMU, runc,
// crun and podman beside vmm where they are installed (src/bench).
//
// Exit status: 0 the benchmark ran (scenarios that could not run are reported as skipped or
// failed, with the reason); 1 a scenario failed in every run and --strict was given, or an
// output could not be written; 2 a usage error (bad flag, unknown scenario or image).
namespace vmm::cli {

// argv[0] is the program, argv[1] "bench".
int bench_main(int argc, char** argv);

}  // namespace vmm::cli
