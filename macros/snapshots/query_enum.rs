const _: () = {
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::Envelope for OrderQuery {
        const TYPES: &'static [&'static str] = &["GetOrder", "ListAllOrders"];
        fn decode(
            message_type: &str,
            data: &[u8],
        ) -> ::core::result::Result<Self, ::eventsmith::__private::DecodeError> {
            match message_type {
                "GetOrder" => {
                    ::eventsmith::__private::decode_message::<GetOrder>("GetOrder", data)
                        .map(Self::GetOrder)
                }
                "ListAllOrders" => {
                    ::eventsmith::__private::decode_message::<
                        ListOrders,
                    >("ListAllOrders", data)
                        .map(Self::ListOrders)
                }
                __other => {
                    ::core::result::Result::Err(
                        ::eventsmith::__private::unknown_type(__other, Self::TYPES),
                    )
                }
            }
        }
    }
    #[automatically_derived]
    #[diagnostic::do_not_recommend]
    impl ::eventsmith::__private::QueryEnvelope for OrderQuery {
        async fn answer(
            self,
            app: &::eventsmith::__private::App,
        ) -> ::core::result::Result<
            ::eventsmith::__private::String,
            ::eventsmith::__private::Error,
        > {
            match self {
                Self::GetOrder(__message) => {
                    <GetOrder as ::eventsmith::__private::JsonAnswer<
                        _,
                    >>::answer_json(__message, app)
                        .await
                }
                Self::ListOrders(__message) => {
                    <ListOrders as ::eventsmith::__private::JsonAnswer<
                        _,
                    >>::answer_json(__message, app)
                        .await
                }
            }
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<GetOrder> for OrderQuery {
        #[inline]
        fn from(message: GetOrder) -> Self {
            Self::GetOrder(message)
        }
    }
    #[automatically_derived]
    impl ::core::convert::From<ListOrders> for OrderQuery {
        #[inline]
        fn from(message: ListOrders) -> Self {
            Self::ListOrders(message)
        }
    }
};
