# One static library per layer, each seeing only its own headers and those of the layers it
# links, so an include that runs back up the stack fails to compile ("No such file").
#
# vmm_layer(<name>
#           SOURCES <dir-or-file>...      .cpp files: every one in a directory, or one named
#           EXCLUDE <regex>...            sources to leave out
#           HEADERS <view-path>=<dir>...  header directories, as the code includes them
#           DEPENDS <target>...           lower layers (and libraries) used in public headers
#           PRIVATE_DEPENDS <target>...)  libraries used only by the sources
#
# Plain -I roots cannot restrict subdirectories (include/ would expose every layer), so each
# layer gets an include view: ${CMAKE_BINARY_DIR}/include-views/<name>/ holding symlinks to
# its own header directories only. The view is the layer's only project include directory and
# a PUBLIC one, so a layer sees its own view and, through DEPENDS, those of the layers below.
function(vmm_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 L "" "" "SOURCES;EXCLUDE;HEADERS;DEPENDS;PRIVATE_DEPENDS")

  set(sources)
  foreach(entry IN LISTS L_SOURCES)
    set(path ${PROJECT_SOURCE_DIR}/${entry})
    if(IS_DIRECTORY ${path})
      file(GLOB found CONFIGURE_DEPENDS ${path}/*.cpp)
      list(APPEND sources ${found})
    else()
      list(APPEND sources ${path})
    endif()
  endforeach()
  foreach(regex IN LISTS L_EXCLUDE)
    list(FILTER sources EXCLUDE REGEX "${regex}")
  endforeach()

  set(view ${CMAKE_BINARY_DIR}/include-views/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(mapping IN LISTS L_HEADERS)
    string(REPLACE "=" ";" pair "${mapping}")
    list(GET pair 0 link)
    list(GET pair 1 target)
    if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${target})
      message(FATAL_ERROR "vmm_layer(${name}): ${target} is not a directory")
    endif()
    get_filename_component(parent ${view}/${link} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${target} ${view}/${link} SYMBOLIC)
  endforeach()

  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${view})
  target_link_libraries(${name} PUBLIC ${L_DEPENDS} PRIVATE ${L_PRIVATE_DEPENDS})
endfunction()
