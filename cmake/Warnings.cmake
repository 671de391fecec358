# Warning flags for autarky's own targets (not third-party code).
set(AUTARKY_WARNING_FLAGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wvla)
if(AUTARKY_WERROR)
  list(APPEND AUTARKY_WARNING_FLAGS -Werror)
endif()

function(autarky_target_warnings target)
  target_compile_options(${target} PRIVATE ${AUTARKY_WARNING_FLAGS})
endfunction()
