// The guest agent's frames and payloads: what a hostile or broken peer may send must end in a
// ProtocolError, never a crash or a silently wrong value.
#include <gtest/gtest.h>

#include "agent/frame.hpp"
#include "agent/messages.hpp"

namespace vmm::agent {
namespace {

std::vector<uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

Frame frame_of(FrameType type, std::string_view payload) { return {type, bytes(payload)}; }

TEST(AgentFrame, EncodesLengthTypeAndPayload) {
  const auto encoded = encode_frame(FrameType::kStdout, bytes("hi"));
  EXPECT_EQ(encoded, (std::vector<uint8_t>{2, 0, 0, 0, 0x15, 'h', 'i'}));
}

TEST(AgentFrame, DecodesFramesFedByteByByte) {
  std::vector<uint8_t> stream;
  encode_frame(FrameType::kStdin, bytes("abc"), stream);
  encode_frame(FrameType::kStdinEof, std::span<const uint8_t>{}, stream);
  FrameDecoder decoder;
  std::vector<Frame> frames;
  for (const uint8_t byte : stream) {
    decoder.feed(std::span(&byte, 1));
    while (auto frame = decoder.next()) frames.push_back(std::move(*frame));
  }
  ASSERT_EQ(frames.size(), 2U);
  EXPECT_EQ(frames[0].type, FrameType::kStdin);
  EXPECT_EQ(frames[0].text(), "abc");
  EXPECT_EQ(frames[1].type, FrameType::kStdinEof);
  EXPECT_TRUE(frames[1].payload.empty());
  EXPECT_EQ(decoder.pending(), 0U);
}

TEST(AgentFrame, TruncatedFrameWaitsForTheRest) {
  const auto encoded = encode_frame(FrameType::kStdout, bytes("hello"));
  FrameDecoder decoder;
  decoder.feed(std::span(encoded).first(encoded.size() - 1));
  EXPECT_FALSE(decoder.has_frame());
  EXPECT_FALSE(decoder.next().has_value());
  EXPECT_EQ(decoder.pending(), encoded.size() - 1);
  decoder.feed(std::span(encoded).last(1));
  EXPECT_TRUE(decoder.has_frame());
  EXPECT_EQ(decoder.next()->text(), "hello");
}

TEST(AgentFrame, OversizeFrameIsRejectedFromItsHeader) {
  const uint32_t length = kMaxFramePayload + 1;
  const std::vector<uint8_t> header{static_cast<uint8_t>(length), static_cast<uint8_t>(length >> 8),
                                    static_cast<uint8_t>(length >> 16),
                                    static_cast<uint8_t>(length >> 24), 0x15};
  FrameDecoder decoder;
  decoder.feed(header);
  EXPECT_TRUE(decoder.has_frame());
  EXPECT_THROW((void)decoder.next(), ProtocolError);
  const std::vector<uint8_t> big(kMaxFramePayload + 1);
  std::vector<uint8_t> out;
  EXPECT_THROW(encode_frame(FrameType::kStdout, big, out), ProtocolError);
}

TEST(AgentFrame, LargestFrameDecodes) {
  const std::vector<uint8_t> payload(kMaxFramePayload, 0xab);
  FrameDecoder decoder;
  decoder.feed(encode_frame(FrameType::kFileData, payload));
  const auto frame = decoder.next();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->payload, payload);
}

TEST(AgentFrame, UnknownTypeIsAnError) {
  FrameDecoder decoder;
  decoder.feed(std::vector<uint8_t>{0, 0, 0, 0, 0x7f});
  try {
    (void)decoder.next();
    FAIL() << "no error";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown frame type 127"), std::string::npos);
  }
  EXPECT_FALSE(is_known_frame_type(0));
  EXPECT_TRUE(is_known_frame_type(0x19));
}

TEST(AgentMessages, ExecRoundTrips) {
  ExecRequest request;
  request.argv = {"sh", "-c", "echo hi"};
  request.environment = {"A=1", "B="};
  request.cwd = "/tmp";
  request.uid = 1000;
  request.gid = 1001;
  request.pty = true;
  request.rows = 50;
  request.cols = 132;
  const auto parsed = parse_exec(frame_of(FrameType::kExec, encode_exec(request)));
  EXPECT_EQ(parsed.argv, request.argv);
  EXPECT_EQ(parsed.environment, request.environment);
  EXPECT_EQ(parsed.cwd, "/tmp");
  EXPECT_EQ(parsed.uid, 1000U);
  EXPECT_EQ(parsed.gid, 1001U);
  EXPECT_TRUE(parsed.pty);
  EXPECT_EQ(parsed.rows, 50);
  EXPECT_EQ(parsed.cols, 132);
}

TEST(AgentMessages, BadExecRequestsAreProtocolErrors) {
  for (const char* payload :
       {"", "[]", "{}", R"({"argv":[]})", R"({"argv":[""]})", R"({"argv":"sh"})", R"({"argv":[1]})",
        R"({"argv":["sh"],"uid":-1})", R"({"argv":["sh"],"uid":4294967296})",
        R"({"argv":["sh"],"rows":65536})", R"({"argv":["sh"],"pty":1})",
        R"({"argv":["sh"],"environment":["NOEQUALS"]})", R"({"argv":["sh"],"environment":["=x"]})",
        R"({"argv":["a\u0000b"]})", R"({"argv":["sh"],"cwd":5})", "{\"argv\":[\"sh\"]"}) {
    EXPECT_THROW((void)parse_exec(frame_of(FrameType::kExec, payload)), ProtocolError) << payload;
  }
}

TEST(AgentMessages, FileInfoRoundTripsAndChecksItsType) {
  FileInfo info;
  info.type = FileType::kDirectory;
  info.mode = 0750;
  info.uid = 7;
  info.gid = 8;
  info.entries = {"a", "b"};
  const auto pulled = parse_file_info(frame_of(FrameType::kFileInfo, encode_file_info(info, 42)));
  EXPECT_EQ(pulled.info.type, FileType::kDirectory);
  EXPECT_EQ(pulled.info.mode, 0750U);
  EXPECT_EQ(pulled.info.uid, 7U);
  EXPECT_EQ(pulled.info.gid, 8U);
  EXPECT_EQ(pulled.info.entries, info.entries);
  EXPECT_EQ(pulled.size, 42U);

  FileInfo link;
  link.type = FileType::kSymlink;
  link.target = "../x";
  const auto push = parse_file_push(frame_of(FrameType::kFilePush, encode_file_push("/a", link)));
  EXPECT_EQ(push.path, "/a");
  EXPECT_EQ(push.info.target, "../x");

  for (const char* payload :
       {R"({"path":"/a","type":"fifo"})", R"({"path":"/a"})", R"({"path":"/a","type":"symlink"})",
        R"({"type":"file"})", R"({"path":"/a","type":"file","mode":65536})"}) {
    EXPECT_THROW((void)parse_file_push(frame_of(FrameType::kFilePush, payload)), ProtocolError)
        << payload;
  }
}

TEST(AgentMessages, FixedSizePayloadsCheckTheirLength) {
  EXPECT_EQ(parse_u32({FrameType::kExit, encode_u32(0x01020304)}), 0x01020304U);
  EXPECT_THROW((void)parse_u32(frame_of(FrameType::kExit, "abc")), ProtocolError);
  const auto size = parse_window_size({FrameType::kResize, encode_window_size({300, 2})});
  EXPECT_EQ(size.rows, 300);
  EXPECT_EQ(size.cols, 2);
  EXPECT_THROW((void)parse_window_size(frame_of(FrameType::kResize, "abcde")), ProtocolError);
}

TEST(AgentMessages, HelloAndErrors) {
  const auto info = parse_hello(frame_of(FrameType::kHello, encode_hello({1, "0.1.0"})));
  EXPECT_EQ(info.protocol_version, 1U);
  EXPECT_EQ(info.agent_version, "0.1.0");
  EXPECT_THROW((void)parse_hello(frame_of(FrameType::kHello, "{}")), ProtocolError);

  const auto report = parse_error(frame_of(FrameType::kError, encode_error({"gone", 2})));
  EXPECT_EQ(report.message, "gone");
  EXPECT_EQ(report.error_number, 2);
  // Not the JSON form: the payload is the message.
  EXPECT_EQ(parse_error(frame_of(FrameType::kError, "plain")).message, "plain");
}

}  // namespace
}  // namespace vmm::agent
