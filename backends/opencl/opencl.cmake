# backends/opencl/opencl.cmake — the OpenCL backend (included by the top-level
# CMakeLists.txt when AG_OPENCL is ON). Needs an OpenCL ICD loader + headers and
# CLBlast. Kernels under shaders/opencl/*.cl are embedded as C strings.

find_package(OpenCL QUIET)
pkg_check_modules(CLBLAST QUIET IMPORTED_TARGET clblast)
set(AG_CLBLAST_LINK "")
if(CLBLAST_FOUND)
  set(AG_CLBLAST_LINK PkgConfig::CLBLAST)
else()
  find_library(AG_CLBLAST_LIBRARY NAMES clblast)
  find_path(AG_CLBLAST_INCLUDE NAMES clblast_c.h)
  if(AG_CLBLAST_LIBRARY AND AG_CLBLAST_INCLUDE)
    add_library(ag_clblast UNKNOWN IMPORTED)
    set_target_properties(ag_clblast PROPERTIES IMPORTED_LOCATION "${AG_CLBLAST_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${AG_CLBLAST_INCLUDE}")
    set(AG_CLBLAST_LINK ag_clblast)
  endif()
endif()

if(NOT OpenCL_FOUND OR NOT AG_CLBLAST_LINK)
  message(WARNING "anygrad: OpenCL backend disabled (OpenCL found: ${OpenCL_FOUND}; "
    "CLBlast found: ${CLBLAST_FOUND}${AG_CLBLAST_LIBRARY}). Install ocl-icd-opencl-dev, "
    "opencl-headers and libclblast-dev, or configure with -DAG_OPENCL=OFF.")
else()
  set(AG_CL_DIR ${CMAKE_CURRENT_LIST_DIR})
  set(AG_CL_SHADER_DIR ${CMAKE_CURRENT_LIST_DIR}/../../shaders/opencl)
  file(GLOB AG_CL_KERNEL_FILES CONFIGURE_DEPENDS ${AG_CL_SHADER_DIR}/*.cl)
  list(SORT AG_CL_KERNEL_FILES)
  # The program starts with the registry's constants and the shared formulas.
  list(PREPEND AG_CL_KERNEL_FILES ${AG_KERNEL_CONSTS} ${AG_SCALAR_OPS})
  set(AG_CL_EMBED_OUT ${CMAKE_CURRENT_BINARY_DIR}/generated/opencl_sources.c)
  add_custom_command(
    OUTPUT ${AG_CL_EMBED_OUT}
    COMMAND ${CMAKE_COMMAND} -DOUT=${AG_CL_EMBED_OUT} "-DFILES=${AG_CL_KERNEL_FILES}"
            -P ${AG_CL_DIR}/embed_sources.cmake
    DEPENDS ${AG_CL_KERNEL_FILES} ${AG_CL_DIR}/embed_sources.cmake
    COMMENT "Embedding OpenCL kernels"
    VERBATIM)
  file(GLOB AG_CL_SOURCES CONFIGURE_DEPENDS ${AG_CL_DIR}/*.c)
  target_sources(anygrad_obj PRIVATE ${AG_CL_SOURCES} ${AG_CL_EMBED_OUT})
  target_include_directories(anygrad_obj PRIVATE ${AG_CL_DIR})
  target_compile_definitions(anygrad_obj PRIVATE AG_HAVE_OPENCL CL_TARGET_OPENCL_VERSION=120)
  target_link_libraries(anygrad_obj PRIVATE OpenCL::OpenCL ${AG_CLBLAST_LINK})
  list(APPEND AG_LINK_LIBS OpenCL::OpenCL ${AG_CLBLAST_LINK})
  if(CLBLAST_FOUND)
    string(APPEND AG_PC_REQUIRES " OpenCL clblast")
  endif()
endif()
