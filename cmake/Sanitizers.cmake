# Global sanitizer flags from AUTARKY_SANITIZE (a comma-separated list for -fsanitize=).
if(AUTARKY_SANITIZE)
  add_compile_options(-fsanitize=${AUTARKY_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${AUTARKY_SANITIZE})
  if(AUTARKY_SANITIZE MATCHES "undefined")
    # A UB finding fails the test instead of printing and carrying on.
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()
