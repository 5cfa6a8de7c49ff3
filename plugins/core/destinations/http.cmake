# HTTP destinations (DICOMweb STOW-RS, Orthanc peer) on libcurl, which the
# top-level CMakeLists.txt already links to router_core. Included from this
# folder's CMakeLists.txt.
target_sources(router_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/HttpClient.cpp
  ${CMAKE_CURRENT_LIST_DIR}/DicomWebDestination.cpp
  ${CMAKE_CURRENT_LIST_DIR}/OrthancPeerDestination.cpp)
