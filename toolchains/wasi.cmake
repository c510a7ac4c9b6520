# WASI (wasm32-wasi, preview1) with Debian's clang-14 + wasi-libc + libc++ for wasm32, or with a
# real wasi-sdk:
#
#   cmake -S . -B build/wasi -DCMAKE_TOOLCHAIN_FILE=toolchains/wasi.cmake
#   cmake -S . -B build/wasi -DCMAKE_TOOLCHAIN_FILE=toolchains/wasi.cmake -DWASI_SDK_PREFIX=/opt/wasi-sdk
#
# Debian flavour, from packages wasi-libc, libc++-14-dev-wasm32, libc++abi-14-dev-wasm32 and
# libclang-rt-14-dev-wasm32:
#   - libc:     /usr/include/wasm32-wasi, /usr/lib/wasm32-wasi (this 2022 snapshot has no
#               wasm32-wasip1 directories: the triple is wasm32-wasi)
#   - libc++:   /usr/include/wasm32-wasi/c++/v1 (a link to /usr/lib/llvm-14/include/wasm32-wasi/
#               c++/v1) and /usr/lib/wasm32-wasi/libc++{,abi}.a (links into /usr/lib/llvm-14)
#   - builtins: /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a, found
#               by clang in its resource directory.
# `--sysroot=/usr` would work but lets host glibc headers in as a fallback, so the sysroot is a
# clean directory of two links made at configure time under the build directory:
#   <build>/wasi-sysroot/include/wasm32-wasi -> /usr/include/wasm32-wasi
#   <build>/wasi-sysroot/lib/wasm32-wasi     -> /usr/lib/wasm32-wasi
# clang's WebAssembly driver then searches <sysroot>/include/wasm32-wasi/c++/v1 for C++ headers
# and <sysroot>/lib/wasm32-wasi for libraries.
#
# C++ needs -fno-exceptions: Debian's wasm32 libc++abi has no exception support.
#
# CMake reads this file again for every try_compile (in a scratch build directory): it is
# idempotent, and WASI_SDK_PREFIX / KITALLOC_WASI_SYSROOT reach those runs through
# CMAKE_TRY_COMPILE_PLATFORM_VARIABLES.
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
# Platform/WASI.cmake (CMake 3.25 has none).
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
list(REMOVE_DUPLICATES CMAKE_MODULE_PATH)

set(WASI_TARGET "wasm32-wasi" CACHE STRING "Target triple for the WASI build")
set(CMAKE_C_COMPILER_TARGET ${WASI_TARGET})
set(CMAKE_CXX_COMPILER_TARGET ${WASI_TARGET})

if(NOT DEFINED WASI_SDK_PREFIX AND DEFINED ENV{WASI_SDK_PREFIX})
  set(WASI_SDK_PREFIX "$ENV{WASI_SDK_PREFIX}")
endif()

if(WASI_SDK_PREFIX)
  # A real wasi-sdk: its own clang, tools and sysroot.
  set(CMAKE_C_COMPILER "${WASI_SDK_PREFIX}/bin/clang")
  set(CMAKE_CXX_COMPILER "${WASI_SDK_PREFIX}/bin/clang++")
  set(CMAKE_AR "${WASI_SDK_PREFIX}/bin/llvm-ar" CACHE FILEPATH "Archiver" FORCE)
  set(CMAKE_RANLIB "${WASI_SDK_PREFIX}/bin/llvm-ranlib" CACHE FILEPATH "Ranlib" FORCE)
  set(CMAKE_SYSROOT "${WASI_SDK_PREFIX}/share/wasi-sysroot")
  if(NOT EXISTS "${CMAKE_CXX_COMPILER}" OR NOT IS_DIRECTORY "${CMAKE_SYSROOT}")
    message(FATAL_ERROR "WASI_SDK_PREFIX=${WASI_SDK_PREFIX}: expected bin/clang++ and "
                        "share/wasi-sysroot there")
  endif()
else()
  # Debian clang-14 + wasi-libc.
  set(CMAKE_C_COMPILER clang-14)
  set(CMAKE_CXX_COMPILER clang++-14)
  find_program(KITALLOC_LLVM_AR NAMES llvm-ar-14 llvm-ar REQUIRED)
  find_program(KITALLOC_LLVM_RANLIB NAMES llvm-ranlib-14 llvm-ranlib REQUIRED)
  set(CMAKE_AR "${KITALLOC_LLVM_AR}" CACHE FILEPATH "Archiver" FORCE)
  set(CMAKE_RANLIB "${KITALLOC_LLVM_RANLIB}" CACHE FILEPATH "Ranlib" FORCE)

  foreach(_kit_dir /usr/include/wasm32-wasi /usr/lib/wasm32-wasi
                   /usr/include/wasm32-wasi/c++/v1)
    if(NOT IS_DIRECTORY "${_kit_dir}")
      message(FATAL_ERROR "${_kit_dir} missing: install wasi-libc, libc++-14-dev-wasm32, "
                          "libc++abi-14-dev-wasm32 and libclang-rt-14-dev-wasm32 "
                          "(scripts/deps.sh), or pass -DWASI_SDK_PREFIX=<wasi-sdk>")
    endif()
  endforeach()

  # Made once, in the top build directory; try_compile runs get the path passed down.
  if(NOT KITALLOC_WASI_SYSROOT)
    set(KITALLOC_WASI_SYSROOT "${CMAKE_BINARY_DIR}/wasi-sysroot")
  endif()
  foreach(_kit_sub include lib)
    set(_kit_link "${KITALLOC_WASI_SYSROOT}/${_kit_sub}/wasm32-wasi")
    if(NOT EXISTS "${_kit_link}")
      file(MAKE_DIRECTORY "${KITALLOC_WASI_SYSROOT}/${_kit_sub}")
      file(CREATE_LINK "/usr/${_kit_sub}/wasm32-wasi" "${_kit_link}" SYMBOLIC)
    endif()
  endforeach()
  set(CMAKE_SYSROOT "${KITALLOC_WASI_SYSROOT}")
endif()

set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WASI_SDK_PREFIX WASI_TARGET KITALLOC_WASI_SYSROOT)

set(CMAKE_C_FLAGS_INIT "")
set(CMAKE_CXX_FLAGS_INIT "-fno-exceptions")

include(${CMAKE_CURRENT_LIST_DIR}/wasm-common.cmake)
