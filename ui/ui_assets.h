// The web UI's files (ui/*.html, *.js, *.css and, when the build fetched it,
// uPlot), compiled into the binary by ui/CMakeLists.txt: nothing to deploy.
#ifndef LADLE_UI_UI_ASSETS_H_
#define LADLE_UI_UI_ASSETS_H_

#include <string_view>

namespace ladle::ui {

struct Asset {
  std::string_view name;  // file name, e.g. "app.js"
  std::string_view content_type;
  std::string_view data;
};

// The asset of that file name; nullptr when there is none.
const Asset* FindAsset(std::string_view name);
// Whether uPlot was built in (the page draws no charts without it).
bool HasCharts();

}  // namespace ladle::ui

#endif  // LADLE_UI_UI_ASSETS_H_
