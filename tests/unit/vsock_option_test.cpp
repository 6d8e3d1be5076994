#include "cli/vsock_option.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

TEST(VsockOption, CidAndSocketInEitherOrder) {
  const VsockConfig a = parse_vsock_option("cid=3,socket=/tmp/v.sock");
  EXPECT_EQ(a.cid, 3u);
  EXPECT_EQ(a.socket, "/tmp/v.sock");
  const VsockConfig b = parse_vsock_option("socket=/tmp/v.sock,cid=0xfffffffe");
  EXPECT_EQ(b.cid, 0xfffffffeu);
  EXPECT_EQ(parse_vsock_option("cid=42,socket=v.sock").socket, "v.sock");  // relative: cwd
}

void expect_error(const std::string& spec, const std::string& fragment) {
  try {
    (void)parse_vsock_option(spec);
    ADD_FAILURE() << spec << " was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fragment), std::string::npos) << spec << " -> " << what;
    EXPECT_EQ(what.rfind("--vsock: ", 0), 0u) << what;
  }
}

TEST(VsockOption, Errors) {
  expect_error("", "empty option");
  expect_error("cid=3", "socket=PATH is required");
  expect_error("socket=/tmp/v.sock", "cid=N is required");
  expect_error("cid=2,socket=/tmp/v.sock", "at least 3");
  expect_error("cid=0,socket=/tmp/v.sock", "reserved");
  expect_error("cid=4294967295,socket=/tmp/v.sock", "at most 4294967294");
  expect_error("cid=99999999999999999999,socket=/tmp/v.sock", "not a number");
  expect_error("cid=-3,socket=/tmp/v.sock", "not a number");
  expect_error("cid=3x,socket=/tmp/v.sock", "not a number");
  expect_error("cid=,socket=/tmp/v.sock", "not a number");
  expect_error("cid=3,cid=4,socket=/tmp/v.sock", "cid= given twice");
  expect_error("cid=3,socket=/a,socket=/b", "socket= given twice");
  expect_error("cid=3,socket=", "must not be empty");
  expect_error("cid=3,socket=/no/such/dir/v.sock", "/no/such/dir does not exist");
  expect_error("cid=3,socket=/tmp/" + std::string(120, 'x'), "longer than");
  expect_error("cid=3,socket=/tmp/v.sock,port=5", "unknown option 'port'");
  expect_error("cid=3,socket=/tmp/v.sock,", "empty option");
  expect_error("3,/tmp/v.sock", "'3' is not KEY=VALUE");
}

}  // namespace
}  // namespace vmm::cli
