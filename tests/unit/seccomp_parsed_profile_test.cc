// A compiled filter holds its profile parsed once: every task's notifications are evaluated with
// that one object (seccomp::TaskWatch hands the filter to the notifier, which asks
// SeccompFilter::ParsedProfile()), never with the profile's JSON parsed again per task or per call.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "supervisor/seccomp/filter.h"
#include "supervisor/seccomp/profile.h"

namespace cordon {
namespace {

TEST(SeccompParsedProfile, ParsedOnceAndSharedAcrossThreads) {
  FilterOptions opts;
  opts.data_dir = std::string(CORDON_BUILD_DIR) + "/share/cordon";
  opts.use_cache = false;
  auto loaded = LoadSeccompFilter("default", opts);
  ASSERT_TRUE(loaded) << loaded.error().Message();
  auto filter = std::make_shared<const SeccompFilter>(std::move(*loaded));
  // As the notifier thread and a daemon's tasks would: first use from several threads at once.
  std::vector<std::shared_ptr<const seccomp::Profile>> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) threads.emplace_back([&, i] { seen[i] = filter->ParsedProfile(); });
  for (auto& t : threads) t.join();
  ASSERT_NE(seen[0], nullptr);
  for (const auto& p : seen) EXPECT_EQ(p.get(), seen[0].get());
  EXPECT_EQ(filter->ParsedProfile().get(), seen[0].get());
  EXPECT_FALSE(seen[0]->rules.empty());
}

}  // namespace
}  // namespace cordon
