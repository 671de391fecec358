// Scheduler: continuous batching against an independent single-sequence reference (Session +
// Sampler, one request at a time): the same tokens alone, batched, with reused prefixes, with
// chunked prompts; stop strings, max_tokens, the reasoning budget, logprobs, cancellation, the
// bounded queue and invalid requests.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/session.h"
#include "model/model.h"
#include "tools/random_model.h"

namespace autarky {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int32_t kVocab = 512;
// Requests without max_tokens that must still be running when the test cancels them get the
// tiny model's whole training context: thousands of steps.
constexpr int32_t kLongContext = 2048;

struct Reference {
  std::vector<int32_t> tokens;  // generated, without a final end-of-generation token
  FinishReason finish = FinishReason::kNone;
  std::vector<std::vector<float>> logits;  // {tokens.size(), n_vocab}: what each was drawn from
};

struct Output {
  std::vector<GeneratedToken> tokens;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  GenerationUsage usage;
  int events = 0;
  std::vector<int32_t> ids() const {
    std::vector<int32_t> ids;
    for (const auto& t : tokens) ids.push_back(t.token);
    return ids;
  }
};

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path dir =
        fs::temp_directory_path() / ("autarky-scheduler-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    tools::RandomModelOptions o;
    o.output = (dir / "tiny-llama.gguf").string();
    o.arch = "llama";
    ASSERT_TRUE(tools::ApplyRandomModelPreset("tiny", &o).ok());
    o.n_vocab = kVocab;
    o.seed = 11;
    o.progress = false;
    o.threads = 1;
    auto written = tools::WriteRandomModel(o);
    ASSERT_TRUE(written.ok()) << written.status().message();
    auto model = LoadModel(o.output);
    ASSERT_TRUE(model.ok()) << model.status().message();
    model_ = model->release();
    auto tokenizer = Tokenizer::FromGguf(model_->file());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    tokenizer_ = tokenizer->release();
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete model_;
    tokenizer_ = nullptr;
    model_ = nullptr;
  }

  static std::unique_ptr<InferenceContext> NewContext(int32_t n_seq, int32_t n_ctx = 256,
                                                      int32_t n_batch = 64) {
    ContextOptions options;
    options.n_ctx = n_ctx;
    options.n_batch = n_batch;
    options.n_seq = n_seq;
    options.n_threads = 2;
    auto ctx = InferenceContext::Create(*model_, options);
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    return std::move(*ctx);
  }

  // The request as one sequence through Session and Sampler, with `forced` tokens written at
  // the given generated positions instead of sampling.
  static Reference RunAlone(const GenerationRequest& request,
                            const std::vector<std::pair<int32_t, int32_t>>& forced = {}) {
    auto ctx = NewContext(1);
    Session session(*ctx, {});
    Sampler sampler(request.sampling, kVocab);
    for (int32_t id : request.prompt) sampler.Accept(id);
    std::vector<float> logits;
    Reference ref;
    EXPECT_TRUE(session.Append(request.prompt, false, logits).ok());
    for (;;) {
      int32_t token = -1;
      const int32_t n = static_cast<int32_t>(ref.tokens.size());
      for (const auto& [at, id] : forced) {
        if (at == n) token = id;
      }
      if (token < 0) token = sampler.Sample(logits);
      sampler.Accept(token);
      if (!request.ignore_eos && tokenizer_->IsEndOfGeneration(token)) {
        ref.finish = FinishReason::kStop;
        return ref;
      }
      ref.tokens.push_back(token);
      ref.logits.push_back(logits);
      if (request.max_tokens >= 0 && n + 1 >= request.max_tokens) {
        ref.finish = FinishReason::kLength;
        return ref;
      }
      const int32_t one[] = {token};
      if (!session.Append(one, false, logits).ok()) {
        ref.finish = FinishReason::kLength;
        return ref;
      }
    }
  }

  static Output Collect(GenerationStream& stream) {
    Output out;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      GenerationEvent event;
      if (stream.Next(&event, 100ms) == GenerationStream::Wait::kTimeout) continue;
      ++out.events;
      out.text += event.text;
      for (auto& t : event.tokens) out.tokens.push_back(t);
      if (event.finish != FinishReason::kNone) {
        out.finish = event.finish;
        out.usage = event.usage;
        return out;
      }
    }
    ADD_FAILURE() << "the request did not finish in time";
    return out;
  }

  static std::vector<int32_t> Prompt(int n, int salt) {
    std::vector<int32_t> p = {tokenizer_->bos_id()};
    for (int i = 1; i < n; ++i) p.push_back(3 + (i * 37 + salt * 101) % (kVocab - 3));
    return p;
  }

  static GenerationRequest Request(int prompt_len, int salt, int32_t max_tokens,
                                   float temperature = 0.8f) {
    GenerationRequest r;
    r.prompt = Prompt(prompt_len, salt);
    r.max_tokens = max_tokens;
    r.sampling.temperature = temperature;
    r.sampling.seed = 1000 + salt;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1.0f;
    r.sampling.min_p = 0.0f;
    return r;
  }

  static std::string Text(const std::vector<int32_t>& tokens) {
    Utf8Stream utf8;
    std::string text;
    for (int32_t id : tokens) {
      text += utf8.Push(tokenizer_->IsSpecial(id) ? "" : tokenizer_->TokenBytes(id));
    }
    return text + utf8.Flush();
  }

  static Model* model_;
  static Tokenizer* tokenizer_;
};

Model* SchedulerTest::model_ = nullptr;
Tokenizer* SchedulerTest::tokenizer_ = nullptr;

TEST_F(SchedulerTest, OneRequestMatchesTheSingleSequenceReference) {
  auto ctx = NewContext(2);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  for (float temperature : {0.0f, 0.8f, 1.5f}) {
    GenerationRequest request = Request(9, 1, 30, temperature);
    request.sampling.top_k = 40;
    request.sampling.repeat_penalty = 1.1f;
    const Reference ref = RunAlone(request);
    Submission sub = scheduler.Submit(request);
    ASSERT_EQ(sub.error, SubmitError::kNone) << sub.message;
    const Output out = Collect(*sub.stream);
    EXPECT_EQ(out.ids(), ref.tokens) << "temperature " << temperature;
    EXPECT_EQ(out.finish, ref.finish);
    EXPECT_EQ(out.text, Text(ref.tokens));
    EXPECT_EQ(out.usage.prompt_tokens, 9);
    EXPECT_EQ(out.usage.completion_tokens,
              static_cast<int32_t>(ref.tokens.size()) + (ref.finish == FinishReason::kStop));
  }
}

TEST_F(SchedulerTest, BatchedRequestsGiveTheSameTokensAsAlone) {
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 6; ++i) {
    // Different prompt lengths, temperatures and lengths, so sequences join and leave at
    // different steps and the batches mix prompt chunks with decoding.
    GenerationRequest r = Request(5 + 7 * i, i, 12 + 5 * i, i % 3 == 0 ? 0.0f : 0.9f);
    r.sampling.presence_penalty = i % 2 ? 0.5f : 0.0f;
    requests.push_back(r);
  }
  std::vector<Reference> refs;
  for (const auto& r : requests) refs.push_back(RunAlone(r));

  auto ctx = NewContext(4);
  std::mutex mutex;
  int32_t max_seqs = 0;
  SchedulerOptions options;
  options.prompt_chunk = 8;
  options.observe_batch = [&](const Batch& batch) {
    std::set<int32_t> seqs(batch.seqs.begin(), batch.seqs.end());
    std::lock_guard<std::mutex> lock(mutex);
    max_seqs = std::max(max_seqs, static_cast<int32_t>(seqs.size()));
  };
  Scheduler scheduler(*ctx, *tokenizer_, options);
  std::vector<std::shared_ptr<GenerationStream>> streams;
  for (const auto& r : requests) {
    Submission sub = scheduler.Submit(r);
    ASSERT_EQ(sub.error, SubmitError::kNone) << sub.message;
    streams.push_back(sub.stream);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const Output out = Collect(*streams[i]);
    EXPECT_EQ(out.ids(), refs[i].tokens) << "request " << i;
    EXPECT_EQ(out.finish, refs[i].finish) << "request " << i;
  }
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_GT(max_seqs, 1) << "the requests were never batched together";
  const SchedulerStats stats = scheduler.Stats();
  EXPECT_EQ(stats.requests_submitted, 6);
  EXPECT_EQ(stats.active, 0);
  EXPECT_EQ(stats.max_step_sequences, max_seqs);
}

TEST_F(SchedulerTest, FollowUpReusesTheCachedPrefix) {
  auto ctx = NewContext(2);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest first = Request(20, 3, 10, 0.0f);
  first.ignore_eos = true;
  const Output a = Collect(*scheduler.Submit(first).stream);
  ASSERT_EQ(a.tokens.size(), 10u);
  EXPECT_EQ(a.usage.cached_tokens, 0);

  // The next turn: prompt, answer, and more. The cache holds the prompt and all but the last
  // generated token (which was sampled, never evaluated).
  GenerationRequest second = Request(20, 3, 15, 0.7f);
  for (int32_t id : a.ids()) second.prompt.push_back(id);
  for (int32_t id : {5, 6, 7}) second.prompt.push_back(id);
  const Reference ref = RunAlone(second);
  const Output b = Collect(*scheduler.Submit(second).stream);
  EXPECT_EQ(b.usage.cached_tokens, 20 + 10 - 1);
  EXPECT_EQ(b.usage.prompt_tokens, 33);
  EXPECT_EQ(b.ids(), ref.tokens);

  // The same prompt again: everything but the last token is reused.
  const Output c = Collect(*scheduler.Submit(second).stream);
  EXPECT_EQ(c.usage.cached_tokens, 32);
  EXPECT_EQ(c.ids(), ref.tokens);
  EXPECT_EQ(scheduler.Stats().cached_tokens, 29 + 32);
}

TEST_F(SchedulerTest, PrefixIsCopiedFromABusySlot) {
  GenerationRequest shares = Request(24, 4, 12, 0.9f);
  shares.prompt.push_back(9);
  shares.prompt.push_back(10);
  const Reference ref = RunAlone(shares);

  auto ctx = NewContext(2, kLongContext);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest running = Request(24, 4, -1, 0.0f);
  running.ignore_eos = true;
  Submission a = scheduler.Submit(running);
  GenerationEvent event;
  while (a.stream->Next(&event, 100ms) == GenerationStream::Wait::kTimeout) {
  }
  ASSERT_FALSE(event.tokens.empty());  // its prompt is in slot 0's cache now
  // Slot 1 has never been used: all reuse comes from copying slot 0's prefix.
  const Output b = Collect(*scheduler.Submit(shares).stream);
  EXPECT_EQ(b.usage.cached_tokens, 24);
  EXPECT_EQ(b.ids(), ref.tokens);
  a.stream->Cancel();
  EXPECT_EQ(Collect(*a.stream).finish, FinishReason::kCancelled);
}

TEST_F(SchedulerTest, LongPromptIsChunkedWhileOthersDecode) {
  GenerationRequest newcomer = Request(41, 6, 5, 0.8f);
  const Reference ref = RunAlone(newcomer);
  auto ctx = NewContext(2, kLongContext);
  const int32_t kChunk = 4;
  std::mutex mutex;
  std::vector<std::vector<int32_t>> batch_seqs;
  SchedulerOptions options;
  options.prompt_chunk = kChunk;
  options.observe_batch = [&](const Batch& batch) {
    std::lock_guard<std::mutex> lock(mutex);
    batch_seqs.push_back(batch.seqs);
  };
  Scheduler scheduler(*ctx, *tokenizer_, options);
  GenerationRequest decoding = Request(6, 5, -1, 0.0f);
  decoding.ignore_eos = true;
  Submission a = scheduler.Submit(decoding);
  GenerationEvent event;
  while (a.stream->Next(&event, 100ms) == GenerationStream::Wait::kTimeout) {
  }
  const Output b = Collect(*scheduler.Submit(newcomer).stream);
  EXPECT_EQ(b.ids(), ref.tokens);
  a.stream->Cancel();
  Collect(*a.stream);

  // Every batch with the newcomer's prompt holds at most kChunk of its tokens, and the
  // decoding sequence's next token too.
  std::lock_guard<std::mutex> lock(mutex);
  int prompt_steps = 0;
  for (const auto& seqs : batch_seqs) {
    const auto b_tokens = std::count(seqs.begin(), seqs.end(), 1);
    const auto a_tokens = std::count(seqs.begin(), seqs.end(), 0);
    if (b_tokens > 1) {
      ++prompt_steps;
      EXPECT_LE(b_tokens, kChunk);
      EXPECT_EQ(a_tokens, 1);
    }
  }
  EXPECT_GE(prompt_steps, 41 / kChunk);
}

TEST_F(SchedulerTest, StopStringEndsTheGenerationBeforeIt) {
  auto ctx = NewContext(1);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest request = Request(7, 8, 40, 0.0f);
  request.ignore_eos = true;
  const Reference ref = RunAlone(request);
  const std::string text = Text(ref.tokens);
  // Three printable ASCII characters from the second half of the text.
  size_t at = text.size() / 2;
  while (at + 3 <= text.size() && !(std::isgraph(static_cast<unsigned char>(text[at])) &&
                                    std::isgraph(static_cast<unsigned char>(text[at + 1])) &&
                                    std::isgraph(static_cast<unsigned char>(text[at + 2])))) {
    ++at;
  }
  ASSERT_LE(at + 3, text.size()) << text;
  const std::string stop = text.substr(at, 3);
  request.stop = {"never appears \x01", stop};
  const Output out = Collect(*scheduler.Submit(request).stream);
  EXPECT_EQ(out.finish, FinishReason::kStop);
  EXPECT_EQ(out.text, text.substr(0, text.find(stop)));
  EXPECT_LT(out.tokens.size(), ref.tokens.size());
}

TEST_F(SchedulerTest, MaxTokensAndTheContextEndGiveLength) {
  auto ctx = NewContext(1, /*n_ctx=*/32);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest request = Request(10, 9, 5, 0.0f);
  request.ignore_eos = true;
  Output out = Collect(*scheduler.Submit(request).stream);
  EXPECT_EQ(out.finish, FinishReason::kLength);
  EXPECT_EQ(out.usage.completion_tokens, 5);
  // Unlimited: the 22 free positions hold 22 generated tokens' inputs, so 23 are generated
  // (the last one is sampled from position 31 and never needs a position of its own).
  request.max_tokens = -1;
  out = Collect(*scheduler.Submit(request).stream);
  EXPECT_EQ(out.finish, FinishReason::kLength);
  EXPECT_EQ(out.usage.completion_tokens, 32 - 10 + 1);
}

TEST_F(SchedulerTest, ReasoningBudgetClosesTheThought) {
  auto ctx = NewContext(1);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest request = Request(8, 10, 12, 0.9f);
  request.ignore_eos = true;
  request.reasoning.starts_open = true;
  request.reasoning.max_tokens = 3;
  request.reasoning.open_token = 300;
  request.reasoning.close_token = 301;
  request.reasoning.close_tokens = {12, 301, 13};
  Reference ref = RunAlone(request, {{3, 12}, {4, 301}, {5, 13}});
  for (int i = 0; i < 3; ++i) {
    ASSERT_NE(ref.tokens[i], 301) << "the model closed the thought itself: pick other ids";
  }
  const Output out = Collect(*scheduler.Submit(request).stream);
  EXPECT_EQ(out.ids(), ref.tokens);
  EXPECT_EQ(out.usage.reasoning_tokens, 3);
  ASSERT_GE(out.tokens.size(), 6u);
  EXPECT_TRUE(out.tokens[3].forced && out.tokens[4].forced && out.tokens[5].forced);
  EXPECT_FALSE(out.tokens[2].forced || out.tokens[6].forced);
}

TEST_F(SchedulerTest, LogprobsAreTheLogSoftmaxOfTheLogits) {
  auto ctx = NewContext(1);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest request = Request(6, 11, 8, 0.0f);
  request.ignore_eos = true;
  request.top_logprobs = 3;
  const Reference ref = RunAlone(request);
  const Output out = Collect(*scheduler.Submit(request).stream);
  ASSERT_EQ(out.tokens.size(), ref.logits.size());
  for (size_t i = 0; i < out.tokens.size(); ++i) {
    const std::vector<float>& l = ref.logits[i];
    double sum = 0;
    for (float v : l) sum += std::exp(static_cast<double>(v));
    const double log_norm = std::log(sum);
    // The scheduler subtracts the maximum first; both are exact to a few float roundings of
    // the magnitudes involved.
    auto tol = [&](double v) { return 8 * FLT_EPSILON * (std::fabs(v) + std::fabs(log_norm)); };
    const GeneratedToken& t = out.tokens[i];
    EXPECT_NEAR(t.logprob, l[t.token] - log_norm, tol(l[t.token]));
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].token, t.token);  // greedy
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(t.top[k].logprob, l[t.top[k].token] - log_norm, tol(l[t.top[k].token]));
      if (k > 0) {
        EXPECT_LE(t.top[k].logprob, t.top[k - 1].logprob);
      }
    }
    int greater = 0;  // the third most likely has exactly two tokens above it
    for (float v : l) greater += v > l[t.top[2].token];
    EXPECT_LE(greater, 2);
  }
}

TEST_F(SchedulerTest, CancelFreesTheSlotAtOnce) {
  auto ctx = NewContext(1, kLongContext);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest endless = Request(5, 12, -1, 0.8f);
  endless.ignore_eos = true;
  Submission a = scheduler.Submit(endless);
  GenerationEvent event;
  while (a.stream->Next(&event, 100ms) == GenerationStream::Wait::kTimeout) {
  }
  a.stream->Cancel();
  const Output cancelled = Collect(*a.stream);
  EXPECT_EQ(cancelled.finish, FinishReason::kCancelled);
  EXPECT_LT(cancelled.usage.completion_tokens, 250);
  const Output next = Collect(*scheduler.Submit(Request(5, 13, 4, 0.0f)).stream);
  EXPECT_NE(next.finish, FinishReason::kCancelled);
}

TEST_F(SchedulerTest, FullQueueRefusesAndCancelledWaitersLeaveIt) {
  auto ctx = NewContext(1, kLongContext);
  SchedulerOptions options;
  options.max_queued = 1;
  Scheduler scheduler(*ctx, *tokenizer_, options);
  GenerationRequest endless = Request(5, 14, -1, 0.8f);
  endless.ignore_eos = true;
  Submission a = scheduler.Submit(endless);
  Submission b = scheduler.Submit(endless);
  ASSERT_EQ(a.error, SubmitError::kNone);
  ASSERT_EQ(b.error, SubmitError::kNone);
  Submission c = scheduler.Submit(endless);
  EXPECT_EQ(c.error, SubmitError::kQueueFull);
  EXPECT_EQ(c.stream, nullptr);
  EXPECT_NE(c.message.find("busy"), std::string::npos) << c.message;
  b.stream->Cancel();
  EXPECT_EQ(Collect(*b.stream).finish, FinishReason::kCancelled);
  Submission d = scheduler.Submit(Request(5, 15, 3, 0.0f));
  EXPECT_EQ(d.error, SubmitError::kNone);
  a.stream->Cancel();
  EXPECT_EQ(Collect(*a.stream).finish, FinishReason::kCancelled);
  EXPECT_EQ(Collect(*d.stream).finish, FinishReason::kLength);
  const SchedulerStats stats = scheduler.Stats();
  EXPECT_EQ(stats.requests_rejected, 1);
  EXPECT_EQ(stats.requests_finished[static_cast<int>(FinishReason::kCancelled)], 2);
  EXPECT_EQ(stats.time_to_first_token.count, 2);  // a and d; b never started
}

TEST_F(SchedulerTest, InvalidRequestsAreRefusedWithTheNumbers) {
  auto ctx = NewContext(1, /*n_ctx=*/32);
  Scheduler scheduler(*ctx, *tokenizer_, {});
  GenerationRequest r = Request(32, 16, 4);
  Submission s = scheduler.Submit(r);
  EXPECT_EQ(s.error, SubmitError::kInvalid);
  EXPECT_NE(s.message.find("32 tokens"), std::string::npos) << s.message;
  r.prompt.clear();
  EXPECT_EQ(scheduler.Submit(r).error, SubmitError::kInvalid);
  r.prompt = {1, kVocab};
  s = scheduler.Submit(r);
  EXPECT_EQ(s.error, SubmitError::kInvalid);
  EXPECT_NE(s.message.find("512"), std::string::npos) << s.message;
  r.prompt = {1, 5};
  r.sampling.top_p = 2.0f;
  s = scheduler.Submit(r);
  EXPECT_EQ(s.error, SubmitError::kInvalid);
  EXPECT_NE(s.message.find("top_p"), std::string::npos) << s.message;
}

TEST_F(SchedulerTest, ShutdownCancelsEverything) {
  auto ctx = NewContext(1);
  std::shared_ptr<GenerationStream> running, waiting;
  {
    Scheduler scheduler(*ctx, *tokenizer_, {});
    GenerationRequest endless = Request(5, 17, -1, 0.8f);
    endless.ignore_eos = true;
    running = scheduler.Submit(endless).stream;
    waiting = scheduler.Submit(endless).stream;
  }
  EXPECT_TRUE(running->finished());
  EXPECT_TRUE(waiting->finished());
  EXPECT_EQ(Collect(*waiting).finish, FinishReason::kCancelled);
}

}  // namespace
}  // namespace autarky
