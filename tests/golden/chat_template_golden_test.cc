// Chat templates against the reference: every template in ../shared/golden/templates over the
// conversations in tests/reference/templates/conversations (with and without the generation
// prompt, and with each template's extra variables), and the semantic snippets in
// tests/reference/templates/snippets.json and random templates, rendered by Python's jinja2
// configured as transformers configures it (tests/reference/templates/render.py, run now) and by
// autarky's ChatTemplate. Each case must be byte-identical, or raise in both.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "testing/shared_data.h"

namespace autarky::chat {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const fs::path kReferenceDir = fs::path(AUTARKY_SOURCE_DIR) / "tests/reference/templates";

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Case {
  std::string label;
  Json job;  // the render.py job: template, messages, tools, add_generation_prompt, ...
};

bool HavePythonJinja() { return std::system("python3 -c 'import jinja2' >/dev/null 2>&1") == 0; }

// Renders every case with render.py in one Python process.
std::vector<Json> RenderReference(const std::vector<Case>& cases) {
  // Strings here are built by appending: GCC 12 warns falsely (-Wrestrict) on
  // "literal" + std::string at -O3.
  std::string dir_name = "autarky_chat_golden_";
  dir_name += std::to_string(::getpid());
  const fs::path dir = fs::temp_directory_path() / dir_name;
  fs::create_directories(dir);
  Json jobs = {{"cases", Json::array()}};
  for (const Case& c : cases) jobs["cases"].push_back(c.job);
  std::ofstream(dir / "jobs.json", std::ios::binary) << jobs.dump();
  std::string command = "python3 '";
  command += (kReferenceDir / "render.py").string();
  command += "' batch '";
  command += (dir / "jobs.json").string();
  command += "' '";
  command += (dir / "results.json").string();
  command += "'";
  const int rc = std::system(command.c_str());
  std::vector<Json> results;
  if (rc == 0) {
    const Json parsed = Json::parse(ReadText(dir / "results.json"));
    for (const Json& r : parsed) results.push_back(r);
  }
  fs::remove_all(dir);
  return results;
}

struct Outcome {
  bool ok = false;
  std::string text;  // the render, or the error
};

Outcome RenderAutarky(const Json& job) {
  Result<ChatTemplate> parsed = ChatTemplate::Parse(job["template"].get<std::string>());
  if (!parsed.ok()) return {false, parsed.status().message()};
  ChatTemplateInputs in;
  in.messages = job["messages"];
  in.tools = job["tools"];
  in.add_generation_prompt = job["add_generation_prompt"].get<bool>();
  in.bos_token = job["bos_token"].get<std::string>();
  in.eos_token = job["eos_token"].get<std::string>();
  in.extra_context = job["extra"];
  in.now_seconds = job["now"].get<int64_t>();
  Result<std::string> rendered = parsed->Apply(in);
  if (!rendered.ok()) return {false, rendered.status().message()};
  return {true, *rendered};
}

// Where two renders first differ, with some context, for the failure message.
std::string DescribeDifference(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 60 ? i - 60 : 0;
  std::string out = "first difference at byte ";
  out += std::to_string(i);
  out += "\n  jinja2:  ";
  out += Json(want.substr(from, 140)).dump();
  out += "\n  autarky: ";
  out += Json(got.substr(from, 140)).dump();
  return out;
}

struct Tally {
  int identical = 0, both_raised = 0, mismatches = 0;
};

void Compare(const std::vector<Case>& cases, const std::vector<Json>& reference, Tally& tally) {
  ASSERT_EQ(reference.size(), cases.size()) << "render.py gave no results (see its stderr)";
  for (size_t i = 0; i < cases.size(); ++i) {
    const Json& want = reference[i];
    const Outcome got = RenderAutarky(cases[i].job);
    const bool want_ok = want["ok"].get<bool>();
    if (want_ok && got.ok && want["text"].get<std::string>() == got.text) {
      ++tally.identical;
    } else if (!want_ok && !got.ok) {
      ++tally.both_raised;
    } else {
      ++tally.mismatches;
      if (!want_ok) {
        ADD_FAILURE() << cases[i].label << ": jinja2 raised (" << want["error"].get<std::string>()
                      << ") but autarky rendered " << Json(got.text.substr(0, 200)).dump();
      } else if (!got.ok) {
        ADD_FAILURE() << cases[i].label << ": autarky raised (" << got.text
                      << ") but jinja2 rendered "
                      << Json(want["text"].get<std::string>().substr(0, 200)).dump();
      } else {
        ADD_FAILURE() << cases[i].label << ": renders differ, "
                      << DescribeDifference(want["text"].get<std::string>(), got.text);
      }
    }
  }
}

TEST(ChatTemplateGolden, SharedTemplatesMatchTransformersJinja2) {
  SKIP_WITHOUT_SHARED("golden/templates");
  if (!HavePythonJinja()) GTEST_SKIP() << "python3 with jinja2 is missing (scripts/install-deps)";
  const Json manifest = Json::parse(ReadText(kReferenceDir / "manifest.json"));
  std::vector<fs::path> templates, conversations;
  for (const auto& entry : fs::directory_iterator(testing::SharedDir() / "golden/templates")) {
    if (entry.path().extension() == ".jinja") templates.push_back(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(kReferenceDir / "conversations")) {
    if (entry.path().extension() == ".json") conversations.push_back(entry.path());
  }
  std::sort(templates.begin(), templates.end());
  std::sort(conversations.begin(), conversations.end());
  ASSERT_GE(templates.size(), 17u);
  ASSERT_GE(conversations.size(), 20u);

  std::vector<Case> cases;
  for (const fs::path& t : templates) {
    const std::string name = t.filename().string();
    const Json& info =
        manifest["templates"].contains(name) ? manifest["templates"][name] : manifest["default"];
    Json extras = Json::array({Json::object()});
    if (info.contains("extra")) {
      for (const Json& e : info["extra"]) extras.push_back(e);
    }
    const std::string source = ReadText(t);
    for (const fs::path& c : conversations) {
      const Json conversation = Json::parse(ReadText(c));
      for (const Json& extra : extras) {
        for (const bool agp : {false, true}) {
          Case k;
          k.label = name + " x " + c.stem().string() + (agp ? " +gen" : "");
          if (!extra.empty()) k.label += std::string(" ").append(extra.dump());
          k.job = {{"template", source},
                   {"messages", conversation["messages"]},
                   {"tools", conversation.contains("tools") ? conversation["tools"] : Json()},
                   {"add_generation_prompt", agp},
                   {"bos_token", info["bos_token"]},
                   {"eos_token", info["eos_token"]},
                   {"extra", extra},
                   {"now", manifest["now"]}};
          cases.push_back(std::move(k));
        }
      }
    }
  }
  Tally tally;
  Compare(cases, RenderReference(cases), tally);
  std::printf(
      "[ chat templates ] %zu templates x %zu conversations: %zu cases, %d identical "
      "renders, %d raised in both, %d mismatches\n",
      templates.size(), conversations.size(), cases.size(), tally.identical, tally.both_raised,
      tally.mismatches);
  // Most cases must render (a comparison where everything raises would prove nothing).
  EXPECT_GT(tally.identical, static_cast<int>(cases.size()) * 2 / 3);
}

TEST(ChatTemplateGolden, SemanticSnippetsMatchJinja2) {
  if (!HavePythonJinja()) GTEST_SKIP() << "python3 with jinja2 is missing (scripts/install-deps)";
  const Json snippets = Json::parse(ReadText(kReferenceDir / "snippets.json"))["snippets"];
  std::vector<Case> cases;
  for (const Json& s : snippets) {
    Case k;
    k.label = "snippet ";
    k.label += Json(s["template"]).dump();
    k.job = {{"template", s["template"]},      {"messages", Json::array()}, {"tools", Json()},
             {"add_generation_prompt", false}, {"bos_token", "<s>"},        {"eos_token", "</s>"},
             {"extra", s["context"]},          {"now", 1721995200}};
    cases.push_back(std::move(k));
  }
  ASSERT_GE(cases.size(), 150u);
  Tally tally;
  Compare(cases, RenderReference(cases), tally);
  std::printf(
      "[ jinja snippets ] %zu cases: %d identical renders, %d raised in both, "
      "%d mismatches\n",
      cases.size(), tally.identical, tally.both_raised, tally.mismatches);
  EXPECT_GT(tally.identical, static_cast<int>(cases.size()) / 2);
}

// Random templates (tests/reference/templates/random_templates.py, fixed seeds): expressions
// mixing every operator, filter, test and method over many value types, in statements, catch
// differences that hand-written cases miss.
TEST(ChatTemplateGolden, RandomTemplatesMatchJinja2) {
  if (!HavePythonJinja()) GTEST_SKIP() << "python3 with jinja2 is missing (scripts/install-deps)";
  const fs::path jobs = fs::temp_directory_path() / "autarky_chat_random_jobs.json";
  std::string command = "python3 '";
  command += (kReferenceDir / "random_templates.py").string();
  command += "' 20261129 1000 > '";
  command += jobs.string();
  command += "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Json generated = Json::parse(ReadText(jobs));
  fs::remove(jobs);
  std::vector<Case> cases;
  for (const Json& job : generated["cases"]) {
    Case k;
    k.label = "random ";
    k.label += Json(job["template"]).dump();
    k.job = job;
    cases.push_back(std::move(k));
  }
  ASSERT_EQ(cases.size(), 1000u);
  Tally tally;
  Compare(cases, RenderReference(cases), tally);
  std::printf(
      "[ random templates ] %zu cases: %d identical renders, %d raised in both, "
      "%d mismatches\n",
      cases.size(), tally.identical, tally.both_raised, tally.mismatches);
  // Random expressions often raise (in both); a fifth must still render.
  EXPECT_GT(tally.identical, static_cast<int>(cases.size()) / 5);
}

}  // namespace
}  // namespace autarky::chat
