# Which kind of build the current project is: `freestanding`, `wasi` or `emscripten` (wasm32),
# or `native-<processor>`. Used by kitalloc's own CMakeLists.txt and, installed, by
# kitallocConfig.cmake, so a package built for one toolchain is refused by a project built
# with another (the archive would not link, or would link the wrong heap layer).
function(kitalloc_flavour out_var)
  if(EMSCRIPTEN)
    set(flavour emscripten)
  elseif(CMAKE_SYSTEM_NAME STREQUAL "WASI")
    set(flavour wasi)
  elseif(CMAKE_SYSTEM_NAME STREQUAL "Generic" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^wasm")
    set(flavour freestanding)
  else()
    set(flavour native-${CMAKE_SYSTEM_PROCESSOR})
  endif()
  set(${out_var} ${flavour} PARENT_SCOPE)
endfunction()
