# backends/vulkan/vulkan.cmake — the Vulkan backend: finds Vulkan and the
# shader tools, compiles every shaders/vulkan/*.comp to SPIR-V at build time
# (validated with spirv-val), embeds the blobs in a generated C file and adds
# the backend's sources to anygrad_obj.
#
# Shader variants: a .comp file may contain lines
#     //! variant NAME -DDEFINE=VALUE ...
# each of which compiles the file once more under NAME with those defines.
# A file without such lines compiles once, named after the file.

find_package(Vulkan REQUIRED)
find_program(AG_GLSLANG glslangValidator REQUIRED)
find_program(AG_SPIRV_VAL spirv-val REQUIRED)

# The lowest Vulkan version the library promises (README): every module is
# compiled and validated for it, here and by the portability gate (tests/portability).
set(AG_VK_TARGET_ENV vulkan1.1)

set(AG_VK_SHADER_DIR ${CMAKE_CURRENT_SOURCE_DIR}/shaders/vulkan)
set(AG_VK_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/vk_shaders)
file(MAKE_DIRECTORY ${AG_VK_OUT_DIR})

file(GLOB AG_VK_COMP CONFIGURE_DEPENDS ${AG_VK_SHADER_DIR}/*.comp)
file(GLOB AG_VK_GLSL CONFIGURE_DEPENDS ${AG_VK_SHADER_DIR}/*.glsl)
list(SORT AG_VK_COMP)

set(AG_VK_SPVS "")
set(AG_VK_NAMES "")
foreach(comp ${AG_VK_COMP})
  # Re-run configure when the variant list of a shader changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${comp})
  get_filename_component(base ${comp} NAME_WE)
  file(STRINGS ${comp} variant_lines REGEX "^//! variant ")
  if(NOT variant_lines)
    set(variant_lines "//! variant ${base}")
  endif()
  foreach(line ${variant_lines})
    string(REGEX REPLACE "^//! variant +" "" spec "${line}")
    string(STRIP "${spec}" spec)
    separate_arguments(args UNIX_COMMAND "${spec}")
    list(POP_FRONT args name)
    if(name IN_LIST AG_VK_NAMES)
      message(FATAL_ERROR "Vulkan shader variant ${name} defined twice (${comp})")
    endif()
    list(APPEND AG_VK_NAMES ${name})
    set(spv ${AG_VK_OUT_DIR}/${name}.spv)
    add_custom_command(OUTPUT ${spv}
      COMMAND ${AG_GLSLANG} -V --target-env ${AG_VK_TARGET_ENV} --quiet -I${AG_VK_SHADER_DIR}
              -I${AG_GEN_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}/backends/base ${args}
              -o ${spv} ${comp}
      COMMAND ${AG_SPIRV_VAL} --target-env ${AG_VK_TARGET_ENV} ${spv}
      DEPENDS ${comp} ${AG_VK_GLSL} ${AG_KERNEL_CONSTS} ${AG_SCALAR_OPS}
      COMMENT "SPIR-V ${name}"
      VERBATIM)
    list(APPEND AG_VK_SPVS ${spv})
  endforeach()
endforeach()

set(AG_VK_EMBED_C ${AG_VK_OUT_DIR}/vk_shaders_embed.c)
add_custom_command(OUTPUT ${AG_VK_EMBED_C}
  COMMAND ${CMAKE_COMMAND} -DOUT=${AG_VK_EMBED_C} "-DSPVS=${AG_VK_SPVS}"
          -P ${CMAKE_CURRENT_SOURCE_DIR}/backends/vulkan/embed_spirv.cmake
  DEPENDS ${AG_VK_SPVS} ${CMAKE_CURRENT_SOURCE_DIR}/backends/vulkan/embed_spirv.cmake
  COMMENT "Embedding Vulkan SPIR-V"
  VERBATIM)

file(GLOB AG_VK_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/backends/vulkan/*.c)
target_sources(anygrad_obj PRIVATE ${AG_VK_SOURCES} ${AG_VK_EMBED_C})
target_include_directories(anygrad_obj PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/backends/vulkan)
target_compile_definitions(anygrad_obj PRIVATE AG_HAVE_VULKAN)
target_link_libraries(anygrad_obj PRIVATE Vulkan::Vulkan)
list(APPEND AG_LINK_LIBS Vulkan::Vulkan)
string(APPEND AG_PC_REQUIRES " vulkan")
