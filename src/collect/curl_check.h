#pragma once
// Checked libcurl calls: CURL_CHECK for CURLcode, CURLM_CHECK for CURLMcode.
#include <curl/curl.h>

#include "core/error.h"

#define CURL_CHECK(call)                                                                           \
  do {                                                                                             \
    const CURLcode curl_check_rc_ = (call);                                                        \
    if (curl_check_rc_ != CURLE_OK)                                                                \
      ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(#call, " failed: ", curl_easy_strerror(curl_check_rc_))); \
  } while (0)

#define CURLM_CHECK(call)                                                                          \
  do {                                                                                             \
    const CURLMcode curlm_check_rc_ = (call);                                                      \
    if (curlm_check_rc_ != CURLM_OK)                                                               \
      ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(#call, " failed: ", curl_multi_strerror(curlm_check_rc_))); \
  } while (0)
