# CMake 3.25 ships no platform file for CMAKE_SYSTEM_NAME WASI; toolchains/wasi.cmake puts
# this directory on CMAKE_MODULE_PATH. Static-only, like wasi-sdk's own Platform/WASI.cmake.
set(WASI 1)
set(CMAKE_EXECUTABLE_SUFFIX .wasm)
set(CMAKE_STATIC_LIBRARY_PREFIX "lib")
set(CMAKE_STATIC_LIBRARY_SUFFIX ".a")
set_property(GLOBAL PROPERTY TARGET_SUPPORTS_SHARED_LIBS FALSE)
