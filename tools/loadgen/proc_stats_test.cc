#include "proc_stats.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <time.h>

using sb::loadgen::CpuBetween;
using sb::loadgen::CpuByPid;
using sb::loadgen::ReadCpuSecondsOfTree;

TEST_CASE("CPU between two samples: new processes count from zero, exited ones are left out", "[loadgen]") {
  const CpuByPid before = {{100, 1.0}, {101, 0.5}, {102, 2.0}};
  const CpuByPid after = {{100, 1.25}, {101, 0.75}, {103, 0.125}};  // 102 exited, 103 started
  CHECK(CpuBetween(before, after) == Approx(0.25 + 0.25 + 0.125));
  CHECK(CpuBetween(after, after) == 0.0);
  CHECK(CpuBetween({}, {}) == 0.0);
}

TEST_CASE("a process tree sample holds the process and its children, with their CPU", "[loadgen]") {
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Burn 100 ms of its own CPU time (however loaded the machine is), tell the parent, wait.
    timespec used{};
    volatile unsigned long spin = 0;
    do {
      for (int i = 0; i < 100000; ++i) spin = spin + 1;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    } while (used.tv_sec == 0 && used.tv_nsec < 100'000'000);
    const char byte = 1;
    (void)!write(ready[1], &byte, 1);
    pause();
    _exit(0);
  }
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  const CpuByPid tree = ReadCpuSecondsOfTree(getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);

  REQUIRE(tree.count(getpid()) == 1);
  REQUIRE(tree.count(child) == 1);
  CHECK(tree.at(child) >= 0.09);
  CHECK(tree.at(child) < 5.0);
  CHECK(ReadCpuSecondsOfTree(child).empty());  // reaped: nothing to read
}
